"""Matte refinement: plate-following edges at full resolution and chatter-free mattes over time."""
