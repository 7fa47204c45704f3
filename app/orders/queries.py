"""What other packages read of the orders, as plain values.

`OrderStatus` is re-exported as a value; orders move only through `app.orders.states`.
"""

from app.orders.models import OrderStatus as OrderStatus
