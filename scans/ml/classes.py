"""The one place that lists the class names, in the order of the models' outputs."""

CLASS_NAMES = ("glioma", "meningioma", "notumor", "pituitary")
