from django.apps import AppConfig


class ReceivingConfig(AppConfig):
    name = "receiving"
