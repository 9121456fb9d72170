"""Student records: the profile a student keeps (and the registrar's fields in it), and the
imports of the registrar's roster, of units and of agreements."""
