"""The played day: simulated residents, drivers, phones and lockers around the real system.

Everything here is at the top of the house: it drives the system from outside, as its users
would, through the HTTP API, the locker protocol and SMS, and checks the day's invariants from
the database at the end.
"""
