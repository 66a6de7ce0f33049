"""The stand-in e-BHXH portal ("Cổng giao dịch BHXH điện tử" stub).

It offers every function of the e-BHXH walkthrough (registration with a signed challenge,
account changes, dossier preparation, check and submission, look-ups, notices, catalogues) and
verifies what the Kyso agent signs with the agent's own signing library, so that integrators,
tests and demos exercise the agent the way the real portal would.
"""
