"""FastStream subscribers (thin) and the use-case functions holding the business rules."""
