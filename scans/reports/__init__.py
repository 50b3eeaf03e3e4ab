"""Taking results out of the portal: PDF reports of a scan and of a patient's history, and
CSV exports of the scan list and of a patient's history. Every one goes through the one
visibility selector and is written to the audit trail."""
