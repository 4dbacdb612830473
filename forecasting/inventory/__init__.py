"""Inventory decisions: lead-time audit, segmentation, rules, safety stock and reorder points,
replenishment advice and the policy simulator."""
