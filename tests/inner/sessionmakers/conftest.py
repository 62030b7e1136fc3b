import app


def pytest_unconfigure(config):
    factory = app.DEFAULT_SESSION_FACTORY
    with open("restored.txt", "w") as f:
        f.write(
            repr(
                (
                    factory.kw["bind"] is app.engine,
                    factory.kw.get("join_transaction_mode"),
                    factory.kw["expire_on_commit"],
                )
            )
        )
