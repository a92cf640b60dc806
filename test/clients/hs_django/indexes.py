"""HybridIndex for Django, as doc/django.md shows it (test_django.py checks
that the page has this code verbatim)."""
from django.contrib.postgres.indexes import PostgresIndex


class HybridIndex(PostgresIndex):
    """An exact hybridsearch index: CREATE INDEX ... USING hybrid (embedding
    vector_cosine_ops).  Name the operator class with opclasses."""
    suffix = "hybrid"

    def __init__(self, *expressions, precision=None, **kwargs):
        self.precision = precision      # None (full), "full" or "half"
        super().__init__(*expressions, **kwargs)

    def deconstruct(self):
        path, args, kwargs = super().deconstruct()
        if self.precision is not None:
            kwargs["precision"] = self.precision
        return path, args, kwargs

    def get_with_params(self):
        return [] if self.precision is None else [f"precision = {self.precision}"]
