"""Database access: the engine (RDS IAM and TLS aware) and the models of the Liquibase schema."""
