// Renders ./openapi.json as a readable page: every operation with its parameters, request body
// and responses, and the schemas they name. No library, nothing fetched from elsewhere.
"use strict";

(async function render() {
  const main = document.getElementById("reference");
  const element = (tag, properties = {}, ...children) => {
    const node = document.createElement(tag);
    Object.assign(node, properties);
    node.append(...children.filter((child) => child !== null && child !== undefined));
    return node;
  };
  const code = (text) => element("code", { textContent: text });
  const refName = (ref) => ref.split("/").pop();
  const schemaText = (schema) => JSON.stringify(schema, null, 2);
  const schemaSummary = (schema) => {
    if (!schema) return null;
    if (schema.$ref) {
      return element("a", { href: "#schema-" + refName(schema.$ref) }, code(refName(schema.$ref)));
    }
    return element("details", {}, element("summary", { textContent: schema.type || "schema" }),
      element("pre", { textContent: schemaText(schema) }));
  };

  let document_;
  try {
    const response = await fetch("openapi.json", { headers: { accept: "application/json" } });
    document_ = await response.json();
  } catch (error) {
    main.append(element("p", { textContent: "openapi.json could not be read: " + error }));
    return;
  }
  document.title = document_.info.title + " API reference";
  main.querySelector("h1").textContent = document_.info.title + " " + document_.info.version;
  if (document_.info.description) {
    main.append(element("p", { textContent: document_.info.description }));
  }

  for (const [path, item] of Object.entries(document_.paths || {})) {
    for (const method of ["get", "head", "post", "put", "patch", "delete"]) {
      const operation = item[method];
      if (!operation) continue;
      const section = element("section", { className: "operation", id: operation.operationId || "" },
        element("h3", {}, element("span", { className: "method", textContent: method }), path));
      if (operation.summary) section.append(element("p", { textContent: operation.summary }));
      if (operation.description && operation.description !== operation.summary) {
        section.append(element("p", { textContent: operation.description }));
      }
      const parameters = [...(item.parameters || []), ...(operation.parameters || [])];
      if (parameters.length > 0) {
        const rows = parameters.map((parameter) => element("tr", {},
          element("td", {}, code(parameter.name)),
          element("td", { textContent: parameter.in + (parameter.required ? ", required" : "") }),
          element("td", { textContent: parameter.description || "" }),
          element("td", {}, schemaSummary(parameter.schema))));
        section.append(element("h4", { textContent: "Parameters" }), element("table", {}, ...rows));
      }
      if (operation.requestBody) {
        section.append(element("h4", { textContent: "Request body" }));
        for (const [type, media] of Object.entries(operation.requestBody.content || {})) {
          section.append(element("p", {}, code(type), " ", schemaSummary(media.schema)));
        }
      }
      const responses = Object.entries(operation.responses || {}).map(([status, answer]) => {
        const content = Object.entries(answer.content || {}).map(([type, media]) =>
          element("div", {}, code(type), " ", schemaSummary(media.schema)));
        const headers = Object.keys(answer.headers || {}).map((name) => code(name + " "));
        return element("tr", {},
          element("td", { className: "status", textContent: status }),
          element("td", { textContent: answer.description || "" }),
          element("td", {}, ...content, ...(headers.length ? [element("div", {}, "headers: ", ...headers)] : [])));
      });
      section.append(element("h4", { textContent: "Responses" }), element("table", {}, ...responses));
      main.append(section);
    }
  }

  const schemas = (document_.components && document_.components.schemas) || {};
  if (Object.keys(schemas).length > 0) {
    main.append(element("h2", { textContent: "Schemas" }));
    for (const [name, schema] of Object.entries(schemas)) {
      main.append(element("section", { id: "schema-" + name },
        element("h3", {}, code(name)),
        schema.description ? element("p", { textContent: schema.description }) : null,
        element("pre", { textContent: schemaText(schema) })));
    }
  }
})();
