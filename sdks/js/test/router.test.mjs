import assert from "node:assert/strict";
import { test } from "node:test";
import { HttpError, Request, Response, Router, utf8 } from "../dist/index.js";

const req = (method, path, route, params = []) => new Request({ method, path, route, params });
const text = (r) => utf8.decode(r.body);

function app() {
  return new Router()
    .get("/todos", () => [1, 2])
    .post("/todos", (r) => Response.json(r.json(), 201))
    .get("/todos/{id}", (_r, { id }) => ({ id }))
    .delete("/todos/:todoId", () => undefined)
    .get("/files/{*rest}", (_r, { rest }) => `file ${rest}`)
    .get("/", () => "root");
}

test("dispatches on the host template under any prefix, by position", () => {
  assert.equal(text(app().handle(req("GET", "/js/todos/3", "/js/todos/{id}", [["id", "3"]]))), '{"id":"3"}');
  assert.equal(text(app().handle(req("GET", "/todos", "/todos"))), "[1,2]");
  assert.equal(app().handle(req("DELETE", "/api/todos/5", "/api/todos/{n}", [["n", "5"]])).status, 204);
  assert.equal(app().handle(req("HEAD", "/todos", "/todos")).status, 200);
  const created = app().handle(new Request({ method: "POST", path: "/todos", route: "/todos", body: '{"t":1}' }));
  assert.equal(created.status, 201);
});

test("405 names the allowed methods; 404 for no route", () => {
  assert.throws(
    () => app().handle(req("PUT", "/todos/3", "/todos/{id}", [["id", "3"]])),
    (e) => e instanceof HttpError && e.status === 405 && e.message.includes("DELETE, GET"),
  );
  assert.throws(() => app().handle(req("GET", "/nope", "/nope")), (e) => e instanceof HttpError && e.status === 404);
});

test("under a catch-all host route, templates match what it covers", () => {
  assert.equal(text(app().handle(req("GET", "/js/todos/9", "/js/{*rest}", [["rest", "todos/9"]]))), '{"id":"9"}');
  assert.equal(text(app().handle(req("GET", "/js/files/a/b", "/js/{*rest}", [["rest", "files/a/b"]]))), "file a/b");
  assert.equal(text(app().handle(req("GET", "/", "/{*rest}", [["rest", ""]]))), "root");
});

test("the longest match wins", () => {
  const r = new Router().get("/{id}", () => "short").get("/todos/{id}", () => "long");
  assert.equal(text(r.handle(req("GET", "/todos/1", "/todos/{id}", [["id", "1"]]))), "long");
  assert.equal(text(r.handle(req("GET", "/x/1", "/x/{id}", [["id", "1"]]))), "short");
});

test("error handlers, and other errors propagate", () => {
  class Odd extends Error {}
  const r = new Router()
    .get("/odd", () => {
      throw new Odd("o");
    })
    .get("/boom", () => {
      throw new RangeError("b");
    })
    .errorHandler(Odd, (e) => Response.text(`odd: ${e.message}`, 400));
  assert.equal(text(r.handle(req("GET", "/odd", "/odd"))), "odd: o");
  assert.throws(() => r.handle(req("GET", "/boom", "/boom")), RangeError);
});

test("bad templates are refused at registration; promises are refused at dispatch", () => {
  assert.throws(() => new Router().get("todos", () => 1), /must start with/);
  assert.throws(() => new Router().get("/{*a}/b", () => 1), /catch-all must be the last/);
  const r = new Router().get("/p", async () => 1);
  assert.throws(() => r.handle(req("GET", "/p", "/p")), /synchronous/);
});

test("host templates the app grammar does not have", () => {
  const r = new Router().get("/todos/{id}", (_r, { id }) => ({ id })).get("/files/{*rest}", (_r, { rest }) => rest);
  assert.equal(text(r.handle(req("GET", "/todos/4", "/todos/{todo-id}", [["todo-id", "4"]]))), '{"id":"4"}');
  assert.equal(text(r.handle(req("GET", "/todos/4.json", "/todos/{id}.json", [["id", "4"]]))), '{"id":"4"}');
  assert.equal(text(r.handle(req("GET", "/api/files/a/b", "/api/{proxy+}", [["proxy", "files/a/b"]]))), "a/b");
});

test("static segments win under a catch-all whatever the order", () => {
  const r = new Router().get("/todos/{id}", () => "by id").get("/todos/new", () => "new");
  assert.equal(text(r.handle(req("GET", "/x/todos/new", "/x/{*rest}", [["rest", "todos/new"]]))), "new");
  assert.equal(text(r.handle(req("GET", "/x/todos/7", "/x/{*rest}", [["rest", "todos/7"]]))), "by id");
});

test("a shorter route that allows the method beats a 405", () => {
  const r = new Router().get("/items/{id}", () => "get").delete("/{id}", () => "delete");
  assert.equal(text(r.handle(req("DELETE", "/items/3", "/items/{id}", [["id", "3"]]))), "delete");
  assert.throws(
    () => r.handle(req("PUT", "/items/3", "/items/{id}", [["id", "3"]])),
    (e) => e instanceof HttpError && e.status === 405 && JSON.stringify(e.details) === '{"allow":["DELETE","GET","HEAD"]}',
  );
});
