-- wrk script: durable POST /orders with a small valid order.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"customer_name":"Bench Customer","customer_email":"bench@example.com","items":[{"product":"widget","quantity":2,"amount":9.99},{"product":"gadget","quantity":1,"amount":0.10}]}'
