"""Checkout (idempotent, oversell-proof), order lookup and the order state machine."""

from __future__ import annotations

import hmac
import json
import logging
import secrets
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Dialect, bindparam, delete, exists, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shop.carts import Cart, CartStore, PricedCart
from shop.catalog import Catalog
from shop.models import Base, IdempotencyKey, Order, OrderEvent, OrderLine, OrderStatus, Product, utcnow
from shop.money import money
from shop.observability import Metrics, log_event
from shop.payments import Card, PaymentProvider, PaymentResult
from shop.shipping import CountryRules, Quote, Rates, quote

log = logging.getLogger("shop.orders")

IDEMPOTENCY_KEY_TTL = timedelta(hours=24)
# A request that holds a key longer than this is presumed dead (crashed pod); a retry may take over.
IDEMPOTENCY_LOCK_TIMEOUT = timedelta(seconds=30)
# A pending order whose key has been left alone for the lock timeout plus this margin is a stalled checkout
# (its request crashed, or the provider or database failed, between checkout's two transactions): the
# housekeeping sweep settles it. The margin keeps the sweep clear of a retry that is about to take over.
STALLED_MARGIN = timedelta(minutes=2)
SWEEP_BATCH = 100
TRANSITIONS: dict[OrderStatus, set[OrderStatus]] = {
    "pending": {"paid", "cancelled"},
    "paid": {"fulfilled", "cancelled"},
}
_INSERT_ORDER, _INSERT_LINES, _INSERT_EVENT = (
    insert(Base.metadata.tables[name]) for name in ("orders", "order_lines", "order_events")
)
_INSERT_KEY = {
    name: insert(IdempotencyKey).on_conflict_do_nothing(index_elements=["key"])
    for name, insert in (("postgresql", pg_insert), ("sqlite", sqlite_insert))
}
_CLAIM_KEY = {name: stmt.returning(IdempotencyKey.key) for name, stmt in _INSERT_KEY.items()}
# Hot statements built once: constructing SQLAlchemy statements per call costs more CPU than running them.
_TAKE_STOCK = (
    update(Product)
    .where(Product.sku == bindparam("b_sku"), Product.stock >= bindparam("b_n"))
    .values(stock=Product.stock - bindparam("b_n"))
    .returning(Product.stock)
)
_RETURN_STOCK = (
    update(Product)
    .where(Product.sku == bindparam("b_sku"))
    .values(stock=Product.stock + bindparam("b_n"))
    .returning(Product.stock)
)
_ORDER_QUANTITIES = select(OrderLine.sku, OrderLine.quantity).where(OrderLine.order_id == bindparam("b_id"))
_SET_STATUS = (
    update(Order)
    .where(Order.id == bindparam("b_id"), Order.status == bindparam("b_from"))
    .values(status=bindparam("b_to"), payment_reference=func.coalesce(bindparam("b_ref"), Order.payment_reference))
)
_STORE_ANSWER = (
    update(IdempotencyKey)
    .where(IdempotencyKey.key == bindparam("b_key"))
    .values(response_status=bindparam("b_status"), response_body=bindparam("b_body"))
)
_NUMBER_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U


@dataclass(frozen=True)
class Address:
    name: str
    line1: str
    line2: str
    city: str
    postal_code: str
    country: str


@dataclass(frozen=True)
class CheckoutRequest:
    cart_id: str
    email: str
    address: Address
    card: Card


@dataclass(frozen=True)
class Outcome:
    """An HTTP status plus JSON body: exactly what an idempotent replay returns."""

    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class _Placed:
    """An order between its two transactions. lines is None for a resumed order: read it back from the DB."""

    order: Order
    lines: list[OrderLine] | None
    events: list[OrderEvent]
    sold_out: bool = False


class OrderRefused(Exception):
    """An order operation the shop refuses; its text is safe to show. The API answers each kind with its own
    status (shop/http.py REFUSALS)."""


class OrderNotFound(OrderRefused):
    def __init__(self, number: str) -> None:
        super().__init__("no such order")
        self.number = number


class InvalidTransition(OrderRefused):
    def __init__(self, from_status: OrderStatus, to_status: OrderStatus) -> None:
        super().__init__(f"cannot move an order from {from_status} to {to_status}")
        self.from_status, self.to_status = from_status, to_status


class _StatusChanged(Exception):
    """The order is no longer in the status a conditional update expected: someone else settled it."""


class _CartTaken(Exception):
    """The cart already has an open order (another checkout of it, under another key, got there first)."""


class _Abort(Exception):
    """Roll back the checkout transaction and answer with this outcome."""

    def __init__(self, outcome: Outcome, reason: str) -> None:
        self.outcome = outcome
        self.reason = reason


def error(status: int, code: str, message: str, **extra: Any) -> Outcome:
    return Outcome(status, json.dumps({"error": code, "message": message, **extra}).encode())


def new_order_number() -> str:
    return "SO-" + "".join(secrets.choice(_NUMBER_ALPHABET) for _ in range(8))


class Orders:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        reads: async_sessionmaker[AsyncSession],
        carts: CartStore,
        catalog: Catalog,
        rules: CountryRules,
        payments: PaymentProvider,
        metrics: Metrics,
        request_key: Callable[[], str],
        today: Callable[[], date] = date.today,
    ) -> None:
        self.sessions = sessions
        self.reads = reads
        self.carts = carts
        self.catalog = catalog
        self.rules = rules
        self.payments = payments
        self.metrics = metrics
        self.request_key = request_key
        self.today = today

    def request_hash(self, canonical_body: bytes) -> str:
        # Keyed: the body holds a card number, and a plain hash of a PAN is guessable.
        return hmac.new(self.request_key().encode(), canonical_body, "sha256").hexdigest()

    # Checkout ---------------------------------------------------------------------------------------

    async def checkout(self, key: str, request_hash: str, req: CheckoutRequest) -> Outcome:
        """Claim the key, create the order and take its stock in one transaction; charge; then settle the
        order and record the answer in a second one. Two commits per order, and whatever a crash leaves
        behind, a retry with the same key finishes."""
        cart = await self.carts.get(req.cart_id)
        order_id = str(uuid.uuid4())
        try:
            async with self.sessions.begin() as session:
                claimed = await self._claim(session, key, request_hash, order_id)
                if isinstance(claimed, Outcome):
                    return claimed
                placed = claimed or await self._reserve(session, order_id, req, cart)
        except _Abort as abort:
            self._failed(abort.reason)
            return await self._record(key, request_hash, abort.outcome)
        except _CartTaken:
            self._failed("cart_already_ordered")
            return await self._record(key, request_hash, await self._cart_taken(req.cart_id))
        if placed.sold_out:
            await self.catalog.cache.invalidate()  # availability changed: do not keep showing "in stock"
        return await self._pay(key, placed, req.card, cart)

    async def _claim(
        self, session: AsyncSession, key: str, request_hash: str, order_id: str
    ) -> Outcome | _Placed | None:
        """Take the key: None for a fresh start, the order to resume, or the outcome to answer with.

        A concurrent first request holds the key row uncommitted; PostgreSQL makes this insert wait for it."""
        now = utcnow()
        conn = await session.connection()
        inserted = await conn.execute(
            _CLAIM_KEY[conn.dialect.name],
            {"key": key, "request_hash": request_hash, "order_id": order_id, "created_at": now, "locked_at": now},
        )
        if inserted.scalar_one_or_none() is not None:
            return None
        row = await session.get(IdempotencyKey, key, with_for_update=True)  # rare: the key was seen before
        if row is None:
            return error(409, "idempotency_key_in_use", "a request with this key is in progress; retry shortly")
        if row.created_at < now - IDEMPOTENCY_KEY_TTL:
            row.request_hash, row.order_id, row.response_status, row.response_body = request_hash, order_id, None, None
            row.created_at = row.locked_at = now
            return None
        if not hmac.compare_digest(row.request_hash, request_hash):
            return error(422, "idempotency_key_reused", "this Idempotency-Key was used with a different request body")
        if row.response_status is not None and row.response_body is not None:
            return Outcome(row.response_status, row.response_body.encode())
        if row.locked_at > now - IDEMPOTENCY_LOCK_TIMEOUT:
            return error(409, "idempotency_key_in_use", "a request with this key is in progress; retry shortly")
        row.locked_at = now
        log_event(log, "idempotency_takeover", order_id=row.order_id)
        order = await session.get(Order, row.order_id) if row.order_id else None
        return _Placed(order, None, []) if order is not None else None

    async def _reserve(self, session: AsyncSession, order_id: str, req: CheckoutRequest, cart: Cart | None) -> _Placed:
        """Create the pending order and take its stock; raise _Abort (rolling everything back) if impossible."""
        if cart is None:
            raise _Abort(error(404, "cart_not_found", "no such cart"), "cart_not_found")
        decline = self.payments.validate(req.card, self.today())
        if decline is not None:
            raise _Abort(_declined(decline, None), decline)
        priced = await self.carts.price(session, cart)
        unavailable = sorted(set(cart.items) - {line.sku for line in priced.lines})
        if unavailable:  # before "empty": a cart of only unavailable lines names them
            raise _Abort(_out_of_stock(unavailable), "out_of_stock")
        if not priced.lines:
            raise _Abort(error(422, "cart_empty", "the cart is empty"), "cart_empty")
        rule = await self.rules.rates(session, req.address.country)
        if rule is None or rule.currency != priced.currency:
            raise _Abort(_unsupported_country(rule, priced.currency), "unsupported_country")
        conn = await session.connection()
        order = self._new_order(order_id, req, priced, quote(rule, priced.subtotal))
        lines = [
            OrderLine(
                order_id=order.id, sku=line.sku, name=line.name, unit_price=line.unit_price, quantity=line.quantity
            )
            for line in priced.lines
        ]
        event = OrderEvent(order_id=order.id, status="pending", note="order placed", created_at=utcnow())
        # Core inserts of the same objects' values: the ORM unit of work would cost more CPU than the SQL.
        # The cart is claimed here: a second open order for it violates uq_orders_open_cart (on PostgreSQL a
        # concurrent checkout of the same cart waits for this transaction, then fails or proceeds).
        try:
            await conn.execute(_INSERT_ORDER, _columns(order))
        except IntegrityError as exc:
            if "uq_orders_open_cart" in str(exc.orig) or "orders.cart_id" in str(exc.orig):
                raise _CartTaken from None
            raise
        await conn.execute(_INSERT_LINES, [_columns(line) for line in lines])
        await conn.execute(_INSERT_EVENT, _columns(event))
        # Stock last and in SKU order: row locks are held as briefly as possible and never deadlock.
        short, sold_out = [], False
        for line in priced.lines:
            left = (await conn.execute(_TAKE_STOCK, {"b_sku": line.sku, "b_n": line.quantity})).scalar_one_or_none()
            if left is None:
                short.append(line.sku)
            sold_out = sold_out or left == 0
        if short:
            raise _Abort(_out_of_stock(short), "out_of_stock")
        return _Placed(order, lines, [event], sold_out)

    def _new_order(self, order_id: str, req: CheckoutRequest, priced: PricedCart, totals: Quote) -> Order:
        address = req.address
        return Order(
            id=order_id,
            number=new_order_number(),
            email=req.email,
            status="pending",
            currency=priced.currency,
            subtotal=totals.subtotal,
            shipping=totals.shipping,
            tax=totals.tax,
            total=totals.total,
            ship_name=address.name,
            ship_line1=address.line1,
            ship_line2=address.line2,
            ship_city=address.city,
            ship_postal_code=address.postal_code,
            ship_country=address.country,
            card_last4=req.card.last4,
            cart_id=req.cart_id,
            created_at=utcnow(),
        )

    async def _cart_taken(self, cart_id: str) -> Outcome:
        """409 naming the cart's open order (the newest order of the cart, should that one have been cancelled
        since, in which case a retry proceeds)."""
        async with self.reads() as session:
            number = (
                await session.execute(
                    select(Order.number).where(Order.cart_id == cart_id).order_by(Order.created_at.desc()).limit(1)
                )
            ).scalar_one_or_none()
        return error(409, "cart_already_ordered", f"this cart already has order {number}", order_number=number)

    async def _pay(self, key: str, placed: _Placed, card: Card, cart: Cart | None) -> Outcome:
        order, result = placed.order, None
        if order.status == "pending":  # not pending only when resuming an order that was already settled
            result = await self.payments.charge(card, order.total, order.currency, idempotency_key=order.number)
        try:
            async with self.sessions.begin() as session:
                restocked = await self._settle(session, placed, result) if result is not None else False
                if placed.lines is None:
                    body = await self.order_dict(session, order.id)
                else:
                    body = order_body(order, placed.lines, placed.events)
                outcome = _answer(body, result)
                await _store_answer(session, key, outcome)
        except _StatusChanged:
            assert result is not None
            return await self._settled_elsewhere(key, order, result)
        if result is not None:
            self._report(order, result)
            if result.approved and cart is not None:
                await self.carts.delete(cart)
        if restocked:
            await self.catalog.cache.invalidate()
        return outcome

    async def _settle(self, session: AsyncSession, placed: _Placed, result: PaymentResult | None) -> bool:
        """Record the payment outcome (None: the checkout was abandoned before any payment); anything but an
        approval cancels the order and returns its stock. True if that restocked a sold-out product."""
        order = placed.order
        if result is not None and result.approved:
            event = await self._set_status(session, order.id, "pending", "paid", "payment captured", result.reference)
        else:
            note = f"payment declined: {result.reason}" if result is not None else "abandoned before payment"
            event = await self._set_status(session, order.id, "pending", "cancelled", note)
        order.status = event.status  # the in-memory copy answers this request
        placed.events.append(event)
        return event.status == "cancelled" and await _restock(session, order.id)

    async def _settled_elsewhere(self, key: str, order: Order, result: PaymentResult) -> Outcome:
        """This request's charge came back after the housekeeping sweep (or an admin) had settled its order. A
        charge the order did not keep is refunded; the answer is the one recorded for the key."""
        async with self.sessions.begin() as session:
            current = await session.get(Order, order.id)
            row = await session.get(IdempotencyKey, key, with_for_update=True)
            assert current is not None
            if row is not None and row.response_status is not None and row.response_body is not None:
                outcome = Outcome(row.response_status, row.response_body.encode())
            else:
                outcome = _answer(await self.order_dict(session, order.id), None)
                await _store_answer(session, key, outcome)
        if result.approved and result.reference and current.status == "cancelled":
            await self.payments.refund(result.reference, order.total, order.currency)
            log_event(log, "late_charge_refunded", level=logging.WARNING, order_number=order.number)
        return outcome

    def _report(self, order: Order, result: PaymentResult | None) -> None:
        """Metrics and logs of a settled checkout (result None: abandoned before payment)."""
        if result is not None and result.approved:
            self.metrics.orders_placed.inc()
            log_event(log, "order_placed", order_number=order.number, total=order.total, currency=order.currency)
        else:
            reason = (result.reason or "card_declined") if result is not None else "checkout_expired"
            self._failed(reason, order_number=order.number)

    # Housekeeping -----------------------------------------------------------------------------------

    async def release_stalled(self) -> int:
        """Settle the checkouts a failure left pending, their stock reserved and no answer recorded: an order
        the provider charged becomes paid, any other is cancelled and its stock returned. The answer is recorded
        for the key, so a retry gets it. Safe to run in every pod at once. Returns the number settled."""
        cutoff = utcnow() - IDEMPOTENCY_LOCK_TIMEOUT - STALLED_MARGIN
        async with self.reads() as session:
            stalled = (
                await session.execute(
                    select(Order.id, Order.number)
                    .where(Order.status == "pending", Order.created_at < cutoff)
                    .order_by(Order.created_at)
                    .limit(SWEEP_BATCH)
                )
            ).all()
        settled = 0
        for order_id, number in stalled:
            try:  # outside any transaction: no lock waits on the provider
                result = await self.payments.lookup(number)
            except Exception as exc:  # noqa: BLE001 - whatever the provider raises, it could not say: try next time
                log_event(
                    log, "payment_lookup_failed", level=logging.WARNING, order_number=number, error=str(exc)[:200]
                )
                continue
            settled += await self._release(order_id, result, cutoff)
        return settled

    async def _release(self, order_id: str, result: PaymentResult | None, cutoff: datetime) -> bool:
        async with self.sessions.begin() as session:
            # Another pod sweeping the same order holds its row: skip it rather than wait.
            order = await session.get(Order, order_id, with_for_update={"skip_locked": True})
            if order is None or order.status != "pending":
                return False
            key = (
                await session.execute(
                    select(IdempotencyKey).where(IdempotencyKey.order_id == order_id).with_for_update()
                )
            ).scalar_one_or_none()
            if key is not None and key.locked_at >= cutoff:
                return False  # a retry has taken the checkout over and finishes it
            placed = _Placed(order, None, [])
            restocked = await self._settle(session, placed, result)
            if key is not None:
                await _store_answer(session, key.key, _answer(await self.order_dict(session, order_id), result))
        log_event(
            log, "stalled_checkout_settled", level=logging.WARNING, order_number=order.number, status=order.status
        )
        self._report(order, result)
        if restocked:
            await self.catalog.cache.invalidate()
        return True

    async def _record(self, key: str, request_hash: str, outcome: Outcome) -> Outcome:
        """Store the answer to a checkout that changed nothing, so a retry with the key gets the same one."""
        now = utcnow()
        async with self.sessions.begin() as session:
            await session.execute(
                _insert_ignore(session.get_bind().dialect).values(
                    key=key,
                    request_hash=request_hash,
                    created_at=now,
                    locked_at=now,
                    response_status=outcome.status,
                    response_body=outcome.body.decode(),
                )
            )
        return outcome

    async def purge_expired_keys(self) -> int:
        """Idempotency keys are kept for IDEMPOTENCY_KEY_TTL, then removed; never while their order is pending
        (a retry with the key may still resume it)."""
        pending = exists().where(Order.id == IdempotencyKey.order_id, Order.status == "pending")
        async with self.sessions.begin() as session:
            result = await session.execute(
                delete(IdempotencyKey).where(IdempotencyKey.created_at < utcnow() - IDEMPOTENCY_KEY_TTL, ~pending)
            )
        return _rowcount(result)

    def _failed(self, reason: str, **fields: Any) -> None:
        self.metrics.checkout_failures.labels(reason).inc()
        log_event(log, "checkout_failed", level=logging.WARNING, reason=reason, **fields)

    # Reads and administration -----------------------------------------------------------------------

    async def order_dict(self, session: AsyncSession, order_id: str) -> dict[str, Any]:
        order = await session.get(Order, order_id)
        assert order is not None
        lines = (
            await session.scalars(select(OrderLine).where(OrderLine.order_id == order_id).order_by(OrderLine.id))
        ).all()
        events = (
            await session.scalars(select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(OrderEvent.id))
        ).all()
        return order_body(order, lines, events)

    async def lookup(self, number: str, email: str) -> dict[str, Any] | None:
        """The order only when the email matches; a wrong email looks exactly like a wrong number."""
        async with self.reads() as session:
            order = (await session.execute(select(Order).where(Order.number == number.upper()))).scalar_one_or_none()
            expected = order.email.lower() if order else "\0"
            if not hmac.compare_digest(expected.encode(), email.strip().lower().encode()) or order is None:
                return None
            return await self.order_dict(session, order.id)

    async def admin_get(self, number: str) -> dict[str, Any] | None:
        async with self.reads() as session:
            order_id = (
                await session.execute(select(Order.id).where(Order.number == number.upper()))
            ).scalar_one_or_none()
            return await self.order_dict(session, order_id) if order_id else None

    async def admin_list(self, status: str | None, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        async with self.reads() as session:
            query = select(Order)
            count = select(func.count()).select_from(Order)
            if status:
                query, count = query.where(Order.status == status), count.where(Order.status == status)
            orders = (await session.scalars(query.order_by(Order.created_at.desc()).limit(limit).offset(offset))).all()
            total = (await session.execute(count)).scalar_one()
            return [await self.order_dict(session, o.id) for o in orders], total

    async def transition(self, number: str, to_status: OrderStatus) -> dict[str, Any]:
        """Admin moves: paid → fulfilled, pending/paid → cancelled (stock returned, payment refunded). Raises
        OrderNotFound, or InvalidTransition for any other move."""
        async with self.sessions.begin() as session:
            order = (
                await session.execute(select(Order).where(Order.number == number.upper()).with_for_update())
            ).scalar_one_or_none()
            if order is None:
                raise OrderNotFound(number)
            if to_status not in TRANSITIONS.get(order.status, set()):
                raise InvalidTransition(order.status, to_status)
            refund = order.status == "paid" and to_status == "cancelled" and order.payment_reference
            await self._set_status(session, order.id, order.status, to_status, f"by admin: {to_status}")
            restocked = to_status == "cancelled" and await _restock(session, order.id)
            if refund and order.payment_reference:
                await self.payments.refund(order.payment_reference, order.total, order.currency)
        if restocked:
            await self.catalog.cache.invalidate()
        async with self.sessions() as session:
            return await self.order_dict(session, order.id)

    async def _set_status(
        self,
        session: AsyncSession,
        order_id: str,
        from_status: OrderStatus,
        to_status: OrderStatus,
        note: str,
        reference: str | None = None,
    ) -> OrderEvent:
        conn = await session.connection()
        changed = await conn.execute(
            _SET_STATUS, {"b_id": order_id, "b_from": from_status, "b_to": to_status, "b_ref": reference}
        )
        if _rowcount(changed) != 1:
            raise _StatusChanged(order_id)
        event = OrderEvent(order_id=order_id, status=to_status, note=note, created_at=utcnow())
        await conn.execute(_INSERT_EVENT, _columns(event))
        return event


def order_body(order: Order, lines: Sequence[OrderLine], events: Sequence[OrderEvent]) -> dict[str, Any]:
    cur = order.currency
    return {
        "id": order.id,
        "number": order.number,
        "status": order.status,
        "email": order.email,
        "items": [
            {
                "sku": line.sku,
                "name": line.name,
                "quantity": line.quantity,
                "unit_price": money(line.unit_price, cur),
                "line_total": money(line.unit_price * line.quantity, cur),
            }
            for line in lines
        ],
        "subtotal": money(order.subtotal, cur),
        "shipping": money(order.shipping, cur),
        "tax": money(order.tax, cur),
        "total": money(order.total, cur),
        "shipping_address": {
            "name": order.ship_name,
            "line1": order.ship_line1,
            "line2": order.ship_line2,
            "city": order.ship_city,
            "postal_code": order.ship_postal_code,
            "country": order.ship_country,
        },
        "card_last4": order.card_last4,
        "created_at": order.created_at.isoformat(),
        "history": [{"status": e.status, "note": e.note, "at": e.created_at.isoformat()} for e in events],
    }


async def _restock(session: AsyncSession, order_id: str) -> bool:
    """Return an order's units to stock; True when some product was sold out before."""
    conn = await session.connection()
    lines = (await conn.execute(_ORDER_QUANTITIES, {"b_id": order_id})).all()
    was_empty = False
    for sku, quantity in sorted(lines):
        left = (await conn.execute(_RETURN_STOCK, {"b_sku": sku, "b_n": quantity})).scalar_one_or_none()
        was_empty = was_empty or left == quantity
    return was_empty


def _insert_ignore(dialect: Dialect) -> Any:
    return _INSERT_KEY[dialect.name]


def _columns(row: Any) -> dict[str, Any]:
    """Column values of a transient ORM object, for a Core insert (autoincrement ids left to the database)."""
    return {c.key: getattr(row, c.key) for c in row.__table__.columns if getattr(row, c.key) is not None}


def _rowcount(result: Any) -> int:
    return int(result.rowcount)


def _unsupported_country(rule: Rates | None, currency: str) -> Outcome:
    """No rule for the country, or one priced in another currency than the cart (never mixed into a total)."""
    message = "we do not ship to this country"
    if rule is not None:
        message = f"shipping to this country is not priced in {currency}"
    fields = [{"field": "shipping_address.country", "message": message}]
    return error(422, "validation_failed", message, fields=fields)


def _out_of_stock(skus: list[str]) -> Outcome:
    return error(409, "out_of_stock", "not enough stock for " + ", ".join(skus), skus=skus)


async def _store_answer(session: AsyncSession, key: str, outcome: Outcome) -> None:
    await (await session.connection()).execute(
        _STORE_ANSWER, {"b_key": key, "b_status": outcome.status, "b_body": outcome.body.decode()}
    )


def _answer(body: dict[str, Any], result: PaymentResult | None) -> Outcome:
    """The answer for a settled order: 201 with the order, or why it was cancelled."""
    if body["status"] != "cancelled":
        return Outcome(201, json.dumps(body).encode())
    if result is not None and not result.approved:
        return _declined(result.reason or "card_declined", body["number"])
    return error(
        409,
        "checkout_expired",
        "the checkout did not complete and was cancelled; nothing was charged",
        order_number=body["number"],
    )


def _declined(reason: str, order_number: str | None) -> Outcome:
    return error(402, "payment_declined", f"the card was declined ({reason})", reason=reason, order_number=order_number)
