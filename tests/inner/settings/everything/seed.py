"""The baseline every test of the project starts from."""

from sqlalchemy import text


def seed(connection):
    connection.execute(text("INSERT INTO countries (code) VALUES ('NL')"))
