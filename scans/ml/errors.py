"""Errors a caller can show to a person: each message is one line that says what to do."""


class ImageError(ValueError):
    """The bytes are not a scan we can read safely."""


class WeightsError(ValueError):
    """A model's weights file is missing, unreadable or not the one its card describes."""


class RecipeError(ValueError):
    """A training recipe that cannot run on the data it was given."""
