"""The pages' shared kit: layout, styles, vendored scripts, translations, sessions, live events.

Every page package (the operators' dashboard, the residents' shop, the drivers' app) renders
through this one place so the pages look, speak and authenticate alike.
"""
