"""Visits to elders and the weekly coverage the policy asks for (每周探访)."""
