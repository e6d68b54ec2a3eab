
app_name = "contact_center"

urlpatterns: list = []
