"""DICOM uploads: read, de-identify, gate by modality, and turn a series into an exam.

The web request only parses headers (scans.dicom.reading), keeps an allow-list of technical
attributes (scans.dicom.attributes), and stores, per slice, a rewritten DICOM holding nothing
but the pixels (scans.dicom.deidentify); the worker renders it to PNG (scans.dicom.render)
with the engine's one pixel path (scans.ml.dicom_pixels) and deletes it. The original file is
never stored.
"""
