"""Users, roles, units, student profiles and login sessions."""
