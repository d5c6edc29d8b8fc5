from django.urls import path

from procurement import views

urlpatterns = [
    path("exports/contributions.csv", views.contributions_csv),
    path("exports/contributions.xlsx", views.contributions_xlsx),
    path("exports/ledger.jsonl", views.ledger_jsonl),
    path("exports/supplier-statement.csv", views.supplier_statement_csv),
    path("exports/supplier-statement.xlsx", views.supplier_statement_xlsx),
    path("exports/basket-template.csv", views.basket_template_csv),
    path("exports/basket-template.xlsx", views.basket_template_xlsx),
]
