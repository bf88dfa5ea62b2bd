"""TEST DOUBLE: the AWS CLI's ``aws dynamodb put-item`` and ``delete-item`` as the boot
script's first-start lock calls them, sent through boto3 to emulated DynamoDB (moto, at
``AWS_ENDPOINT_URL``), so the lock's condition expressions are evaluated by DynamoDB's rules
as moto implements them rather than by a hand-written stand-in. Errors are printed the way
the CLI prints them (``An error occurred (Code) when calling the PutItem operation: ...``)
with the CLI's exit status 254.
"""

from __future__ import annotations

import json
import sys

import boto3
from botocore.exceptions import ClientError

OPERATIONS = {"put-item": "put_item", "delete-item": "delete_item"}
JSON_ARGS = {
    "--item": "Item",
    "--key": "Key",
    "--expression-attribute-names": "ExpressionAttributeNames",
    "--expression-attribute-values": "ExpressionAttributeValues",
}
TEXT_ARGS = {"--table-name": "TableName", "--condition-expression": "ConditionExpression"}


def parse(argv: list[str]) -> tuple[str, dict[str, object]]:
    if len(argv) < 2 or argv[0] != "dynamodb" or argv[1] not in OPERATIONS:
        raise SystemExit(f"aws_dynamodb_cli: unsupported command {argv[:2]}")
    params: dict[str, object] = {}
    rest = argv[2:]
    for flag, value in zip(rest[::2], rest[1::2], strict=True):
        if flag in JSON_ARGS:
            params[JSON_ARGS[flag]] = json.loads(value)
        elif flag in TEXT_ARGS:
            params[TEXT_ARGS[flag]] = value
        else:
            raise SystemExit(f"aws_dynamodb_cli: unsupported option {flag}")
    return OPERATIONS[argv[1]], params


def main(argv: list[str]) -> int:
    operation, params = parse(argv)
    client = boto3.client("dynamodb", region_name="us-east-1")
    try:
        getattr(client, operation)(**params)
    except ClientError as err:
        error = err.response["Error"]
        name = err.operation_name
        print(
            f"An error occurred ({error['Code']}) when calling the {name} operation: "
            f"{error.get('Message', '')}",
            file=sys.stderr,
        )
        return 254
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
