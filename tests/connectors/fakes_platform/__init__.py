"""Local fakes of platform APIs (REST, GraphQL, BigQuery) for connector tests."""
