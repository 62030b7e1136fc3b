import os

from sqlalchemy import DDL, Column, Integer, MetaData, Numeric, Table, event, text

FAULT = os.environ["FAULT"]

metadata = MetaData()
orders = Table("orders", metadata, Column("id", Integer, primary_key=True))

if FAULT == "table-fails":
    Table("totals", metadata, Column("total", Numeric, server_default=text("no_such_function()")))
else:  # the server runs out of disk space while creating the tables
    event.listen(
        orders,
        "after_create",
        DDL(
            'DO $$ BEGIN RAISE EXCEPTION \'could not extend file "base/1/2": No space left on '
            "device' USING ERRCODE = 'disk_full'; END $$"
        ),
    )
