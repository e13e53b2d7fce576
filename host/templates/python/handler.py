"""`{{name}}`: a Lamina handler. `lamina build` makes `dist/{{name}}.wasm`; `lamina.toml`
binds it to `GET /hello/{name}`."""

from lamina import HttpError, Router, config

app = Router()


@app.get("/hello/{name}")
def hello(name: str) -> dict[str, str]:
    if not name:
        raise HttpError.bad_request("name must not be empty")
    return {"message": f"{config.get('greeting', 'Hello')}, {name}!"}
