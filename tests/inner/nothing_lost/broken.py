from sqlalchemy import Column, Integer, MetaData, Table, text

metadata = MetaData()
Table("batches", metadata, Column("id", Integer, primary_key=True))
Table("totals", metadata, Column("total", Integer, server_default=text("no_such_function()")))
