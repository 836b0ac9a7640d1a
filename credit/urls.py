"""Credit API routes (mounted at /api/credit/)."""

app_name = "credit"
urlpatterns: list = []
