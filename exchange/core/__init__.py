"""What every feature shares: database types, time, audit, security, i18n, errors."""
