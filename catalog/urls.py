from django.urls import path

from catalog import views

urlpatterns = [
    path("exports/recommended-catalog.csv", views.recommended_catalog_csv),
    path("exports/recommended-catalog.xlsx", views.recommended_catalog_xlsx),
    # Private documents, access-checked: /documents/qualifications/12 (or inspection-reports)
    path(
        "documents/<slug:kind>/<int:document_id>",
        views.document_download,
        name="document-download",
    ),
]
