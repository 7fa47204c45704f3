"""The drivers' app: an installable, offline-first web app for the day's route."""
