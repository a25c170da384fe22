from warehouse.errors import DomainError


class InfeasibleEdit(DomainError):
    code = "infeasible-route-edit"
    title = "The edited route would break a constraint"


class NothingToPlan(DomainError):
    code = "nothing-to-plan"
    title = "No shipments to plan"
    http_status = 400


class SolutionCheckFailed(Exception):
    """The solver returned a plan that the independent checker rejects: a bug, never shown."""
