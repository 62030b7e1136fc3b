from sqlalchemy import create_engine
from sqlalchemy.orm import scoped_session, sessionmaker

Session = scoped_session(sessionmaker(bind=create_engine("postgresql+psycopg2://x@127.0.0.1:1/x")))
