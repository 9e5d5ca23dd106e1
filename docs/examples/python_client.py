"""Creating, reading and listing orders with the Python client generated from the order
service's OpenAPI document (see the README, "The API's documents"). The tests generate the
client and run this file against a running service:

    openapi-python-client generate --url http://127.0.0.1:8080/openapi.json --meta none --output-path order_client
    python3 python_client.py http://127.0.0.1:8080
"""

import sys

from order_client import Client
from order_client.api.orders import create_order, get_order, list_orders, update_order
from order_client.models import ErrorEnvelope, NewOrder, NewOrderLine, Order, OrderChange, OrderStatus


def main(base_url: str) -> None:
    client = Client(base_url=base_url, raise_on_unexpected_status=True)

    created = create_order.sync(
        client=client,
        body=NewOrder(
            customer_name="Ada Lovelace",
            customer_email="ada@example.com",
            items=[NewOrderLine(product="widget", quantity=2, amount="9.99")],
        ),
    )
    if not isinstance(created, Order):
        raise SystemExit(f"not created: {created}")

    confirmed = update_order.sync(
        client=client,
        id=str(created.order_id),
        body=OrderChange(status=OrderStatus.CONFIRMED),
        if_match=f'"{created.version}"',
    )
    if not isinstance(confirmed, Order):
        raise SystemExit(f"not confirmed: {confirmed}")

    read = get_order.sync(client=client, id=str(created.order_id))
    print(f"{read.order_id} {read.status.value} {read.total_amount} version {read.version}")

    refused = create_order.sync(
        client=client, body=NewOrder(customer_name="Ada Lovelace", items=[])
    )
    if isinstance(refused, ErrorEnvelope):
        print(f"refused: {refused.error.field}: {refused.error.message}")

    page = list_orders.sync(client=client, limit=10)
    print(f"{len(page.orders)} order(s) listed")


if __name__ == "__main__":
    main(sys.argv[1])
