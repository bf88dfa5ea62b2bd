"""Secret rotation: the Secrets Manager rotation function of the Open WebUI database user.

``db_users`` runs in AWS Lambda (standard library, boto3 from the runtime, and the pinned
pure-Python PostgreSQL driver in ``vendor/``); the stack packages it from this folder.
"""
