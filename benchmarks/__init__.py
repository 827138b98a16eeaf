"""Harnesses that measure the real parts side by side with their anchors, and the report."""
