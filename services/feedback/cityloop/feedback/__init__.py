"""Feedback: calls the citizen back (回访), records solved/satisfied, reopens, scores departments (三率)."""
