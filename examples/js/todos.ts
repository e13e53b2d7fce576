// `todos` in TypeScript: a small JSON API over several routes and methods, with 400/404/422
// errors thrown as `HttpError`. Like the Rust `todos` (examples/todos): with
// `key-value = ["todos"]` in its host config each todo is the JSON at `todo:{id}` in that
// store, with ids from the atomic counter `next-id` (the same layout, so the two can share a
// store). Without a store it serves the same fixed seed list: `POST` answers with the todo
// it would create, `DELETE` with whether it would have deleted one.
import { HttpError, Request, Response, Router, kv, log, utf8 } from "@lamina/sdk";

interface Todo {
  id: number;
  title: string;
  done: boolean;
}

/** Longest title a todo may have. */
const MAX_TITLE = 500;

const SEED: Todo[] = [
  { id: 1, title: "Write the WIT contract", done: true },
  { id: 2, title: "Ship the host", done: false },
  { id: 3, title: "Swap a component live", done: false },
];

/** Parsed as the Rust todos parses a u64: an optional `+`, ASCII digits, positive. */
function todoId(raw: string): number {
  if (/^\+?[0-9]+$/.test(raw) && BigInt(raw) > 0n && BigInt(raw) < 2n ** 64n) return Number(raw);
  throw HttpError.badRequest(`todo id must be a positive integer, got ${JSON.stringify(raw)}`);
}

/** The `todos` store, or undefined when the host config grants none (the seed list). */
function store(): kv.Store | undefined {
  try {
    return kv.open("todos");
  } catch (e) {
    if (e instanceof kv.KvError && e.kind === "access-denied") return undefined;
    throw e;
  }
}

function find(id: number): Todo {
  const s = store();
  const todo = s ? s.getJson<Todo>(`todo:${id}`) : SEED.find((t) => t.id === id);
  if (!todo) throw HttpError.notFound(`no todo with id ${id}`);
  return todo;
}

function everyTodo(s: kv.Store): Todo[] {
  const keys = [...s.keys()].filter((k) => k.startsWith("todo:"));
  const todos: Todo[] = [];
  for (const value of s.getMany(keys)) {
    if (value) todos.push(JSON.parse(utf8.decode(value)) as Todo);
  }
  return todos.sort((a, b) => a.id - b.id);
}

function create(req: Request): Response {
  const input = req.json<Record<string, unknown>>();
  if (input === null || typeof input !== "object" || Array.isArray(input)) {
    throw new HttpError(400, "invalid-json", "request body: expected an object with a title");
  }
  const unknown = Object.keys(input).filter((k) => k !== "title" && k !== "done").sort();
  if (unknown.length > 0) {
    throw new HttpError(400, "invalid-json", `request body: unknown field ${JSON.stringify(unknown[0])}, expected title or done`);
  }
  const { title, done = false } = input;
  if (typeof title !== "string" || typeof done !== "boolean") {
    throw new HttpError(400, "invalid-json", "request body: title must be a string and done a boolean");
  }
  const trimmed = title.trim();
  if (!trimmed) throw HttpError.unprocessable("a todo needs a title", [{ field: "title", problem: "empty" }]);
  if ([...trimmed].length > MAX_TITLE) {
    throw HttpError.unprocessable(`a title has at most ${MAX_TITLE} characters`, [{ field: "title", problem: "too long" }]);
  }
  const s = store();
  const todo: Todo = { id: s ? s.increment("next-id") : SEED.length + 1, title: trimmed, done };
  s?.setJson(`todo:${todo.id}`, todo);
  log.info(`created todo ${todo.id}`);
  return Response.json(todo, 201).withHeader("location", `${req.path.replace(/\/+$/, "")}/${todo.id}`);
}

export const app = new Router()
  .get("/todos", (req) => {
    const done = req.query("done");
    if (done !== undefined && done !== "true" && done !== "false") {
      throw HttpError.badRequest(`done must be true or false, got ${JSON.stringify(done)}`);
    }
    const s = store();
    return (s ? everyTodo(s) : SEED).filter((t) => done === undefined || t.done === (done === "true"));
  })
  .post("/todos", create)
  .get("/todos/{id}", (_req, { id }) => find(todoId(id)))
  .delete("/todos/{id}", (_req, { id }) => {
    const n = todoId(id);
    find(n);
    store()?.delete(`todo:${n}`);
    return Response.noContent();
  });
