"""Operators edit the synonym dictionary here; a save takes effect at the next query."""

from django import forms
from django.contrib import admin

from search.models import SynonymRule
from search.synonyms import RuleError, parse_rule


class SynonymRuleForm(forms.ModelForm):
    class Meta:
        model = SynonymRule
        fields = ("rule", "enabled", "note")

    def clean_rule(self) -> str:
        rule = self.cleaned_data["rule"]
        try:
            if parse_rule(rule) is None:
                raise RuleError("the rule is empty")
        except RuleError as error:
            raise forms.ValidationError(str(error)) from error
        return rule


@admin.register(SynonymRule)
class SynonymRuleAdmin(admin.ModelAdmin):
    form = SynonymRuleForm
    list_display = ("rule", "enabled", "note", "updated_at")
    list_filter = ("enabled",)
    search_fields = ("rule", "note")
