"""The DynamoDB tables, one module per table: the only modules that call DynamoDB."""
