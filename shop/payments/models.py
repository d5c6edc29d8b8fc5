from django.db import models


class WebhookEvent(models.Model):
    """A Stripe event the receiver has processed. The unique event id is what makes a replayed
    or re-delivered event harmless: its row exists, so its handlers do not run again."""

    event_id = models.CharField(max_length=255, unique=True)
    event_type = models.CharField(max_length=100, db_index=True)
    # The id of the event's object (payment intent, charge, refund), for looking things up.
    object_id = models.CharField(max_length=255, blank=True, db_index=True)
    livemode = models.BooleanField(default=False)
    # When Stripe says the event happened, and when we processed it.
    created_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"{self.event_id} {self.event_type}"
