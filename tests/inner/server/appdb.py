import os

from sqlalchemy import create_engine

# Built when the test module is imported, before any worker schema exists, from the
# application's own configuration: no search_path in it.
engine = create_engine(os.environ["UOW_DATABASE_URL"])
