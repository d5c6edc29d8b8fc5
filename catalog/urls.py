from django.urls import path

from catalog import views

urlpatterns = [
    path("exports/recommended-catalog.csv", views.recommended_catalog_csv),
    path("exports/recommended-catalog.xlsx", views.recommended_catalog_xlsx),
]
