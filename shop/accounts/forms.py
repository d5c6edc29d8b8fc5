"""The sign-in forms of the browser doors (/admin/login/ and /dashboard/login/): both check
the password through services.sign_in, so they are throttled exactly like tokenCreate."""

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from shop.accounts.services import sign_in
from shop.accounts.throttle import client_address
from shop.core.errors import DomainError


class SignInForm(AuthenticationForm):
    username = forms.EmailField(
        label="邮箱", widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"})
    )
    password = forms.CharField(
        label="密码",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def clean(self):
        email, password = self.cleaned_data.get("username"), self.cleaned_data.get("password")
        if email and password:
            try:
                self.user_cache = sign_in(
                    email=email, password=password, address=client_address(self.request)
                )
            except DomainError as error:
                raise ValidationError(error.message, code=error.code) from error
            self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data


class AdminSignInForm(SignInForm, AdminAuthenticationForm):
    """The admin's form: a signed-in account must also be staff (AdminAuthenticationForm)."""
