# ruff: noqa: E501  (a translation table: one message and its Russian per line reads better than wrapped strings)
"""Write the desk's Russian gettext catalogue (src/zaslon/adapters/http/desk/locale/ru/LC_MESSAGES/desk.po).

The templates' strings are English msgids; this table is where their Russian lives. Run it after adding a
string: it also lists every msgid the templates use that has no translation yet.
    PYTHONPATH=src python scripts/desk-catalogue.py
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import write_po

DESK = Path(__file__).resolve().parents[1] / "src/zaslon/adapters/http/desk"

RU = {
    "24/7 desk": "Дежурная часть 24/7", "Desk": "Дежурная часть",
    "A traced account paying out to cash, abroad or crypto: a lead for a patrol.":
        "Отслеженный счёт выводит деньги в наличные, за рубеж или в криптовалюту: наводка для патруля.",
    "ATM": "Банкомат", "Account": "Счёт", "Acknowledged": "Получено банком", "Action": "Действие", "Age": "Возраст",
    "Amount": "Сумма", "Appeal": "Жалоба", "Appeals": "Жалобы", "Appeals against listings": "Жалобы на включение в списки",
    "Assign": "Назначить", "Assign to": "Назначить на", "Assign to me": "Взять себе", "Assigned": "Исполнитель",
    "Audit": "Аудит", "Audit trail": "Журнал действий", "Back": "Назад", "Bank": "Банк",
    "Cash-out alerts": "Сигналы об обналичивании", "Close": "Закрыть", "Close as": "Закрыть как",
    "Couriers": "Курьеры", "Deadline": "Срок", "Decide": "Решить", "Decision": "Решение", "Detail": "Подробности",
    "District": "Участок", "Elderly people living alone who were targeted":
        "Одинокие пожилые люди, на которых было нацелено мошенничество",
    "End": "Куда ушли деньги", "Filed": "Подана", "Filter": "Показать", "Freeze orders": "Предписания о заморозке",
    "From account": "Со счёта", "Frozen": "Заморожено", "Incident": "Происшествие", "Incident queue": "Очередь происшествий",
    "Indicators": "Индикаторы", "Issued": "Выдано", "Kind": "Вид", "Login": "Имя входа", "Main": "Главное меню",
    "Money flow": "Движение денег", "Name": "Имя", "No alerts.": "Сигналов нет.", "No appeals.": "Жалоб нет.",
    "No incidents in this view.": "В этом представлении происшествий нет.", "No orders.": "Предписаний нет.",
    "No traced money (no disputed transfer known to the exchange).":
        "Отслеженных денег нет (оспоренные переводы обмену неизвестны).",
    "Nobody on the list.": "Список пуст.", "Not done": "Не выполнено", "Note": "Примечание",
    "Nothing left to take.": "Брать больше нечего.", "Order": "Предписание", "Orders": "Предписания",
    "Pages": "Страницы", "Password": "Пароль", "Person": "Сотрудник", "Phone": "Телефон", "Priority": "Приоритет",
    "Queue": "Очередь", "Reason": "Основание", "Release to the pool": "Вернуть в очередь",
    "Report text": "Текст заявления", "Reported": "Заявлено", "Scheme": "Схема", "Sign in": "Войти",
    "Sign in to the desk": "Вход в дежурную часть", "Sign out": "Выйти", "Skip to content": "К содержимому",
    "Snooze": "Отложить", "Snooze for": "Отложить на", "Status": "Статус", "Take next": "Взять следующее",
    "Target": "Объект", "Time": "Время", "Timeline": "Хронология", "Times in Europe/Minsk": "Время минское",
    "To ack": "До получения", "To freeze": "До заморозки", "To order": "До предписания", "Traced": "Отслежено",
    "Victim": "Потерпевший", "View": "Представление", "Where": "Где", "Work": "Работа", "abroad": "за рубеж",
    "acknowledgement → frozen": "получение → заморозка", "all": "все", "cashed out": "обналичено",
    "closed": "закрыто", "crypto": "криптовалюта", "frozen": "заморожено", "high": "высокий",
    "incidents": "происшествий", "lives alone": "живёт один", "more accounts not drawn": "счетов не показано",
    "next": "дальше", "normal": "обычный", "order → bank acknowledgement": "предписание → получение банком",
    "page": "страница", "passed on": "передано дальше", "previous": "назад", "raised": "повышенный",
    "reason": "основание", "report → first order": "заявление → первое предписание", "snoozed until": "отложено до",
    "still in account": "на счёте", "in account": "на счёте", "still in accounts": "на счетах", "victim": "потерпевший",
    "Patrols dispatched": "Патрулей направлено", "Couriers detained": "Курьеров задержано",
    "Map of Belarus": "Карта Беларуси", "cash-out ATM": "банкомат обналичивания", "border crossing": "пункт пропуска",
    "Nearest crossing": "Ближайший пункт пропуска", "Patrol dispatched": "Патруль направлен",
    "Courier detained": "Курьер задержан", "courier.patrol": "патруль направлен", "courier.detained": "курьер задержан",
    "Rules": "Правила", "Rule sets": "Наборы правил", "Rule set": "Набор правил", "New draft from": "Новый черновик из",
    "packaged default": "правил по умолчанию", "New draft": "Новый черновик", "Live": "Действует", "Shadow": "В тени",
    "Version": "Версия", "Parent": "Исходная", "Created": "Создан", "Description": "Описание",
    "No rule sets stored yet: the packaged default rules apply.": "Наборов правил пока нет: действуют правила по умолчанию.",
    "Compare": "Сравнить", "with": "с", "Side by side": "Рядом", "No differences.": "Различий нет.",
    "Save draft": "Сохранить черновик", "Backtest": "Проверка на истории",
    "What these rules would have done to the stored transfers, judged against reported incidents.":
        "Что сделали бы эти правила с сохранёнными переводами, по заявленным происшествиям.",
    "Run backtest": "Проверить на истории", "for an earlier edit": "для прежней правки", "Transfers": "Переводов",
    "Money saved": "Сохранено денег", "Fraud money": "Похищено", "Legitimate held": "Задержано законных",
    "Recall (held)": "Полнота (задержано)", "Not backtested yet.": "Ещё не проверялись.", "Deploy": "Ввести в действие",
    "Backtest these rules before they go live or in shadow.": "Проверьте правила на истории, прежде чем вводить их.",
    "Run in shadow": "Запустить в тени", "Activate": "Ввести в действие", "Changes from": "Изменения относительно",
    "live": "действует", "shadow": "в тени", "draft": "черновик", "published": "опубликован",
    "Cases": "Дела", "Case": "Дело", "Incidents": "Происшествия", "Export": "Выгрузка", "No cases.": "Дел нет.",
    "Confirm the case": "Подтвердить дело", "Split off": "Выделить", "Merge": "Объединить",
    "Split the ticked incidents into a new case": "Выделить отмеченные происшествия в новое дело",
    "Other case": "Другое дело", "The group": "Группа", "Stolen": "Похищено", "Saved": "Сохранено", "Lost": "Потеряно",
    "Victims": "Потерпевшие", "persons": "граждан", "companies": "организаций", "Drops": "Дропы", "accounts": "счетов",
    "transfers": "переводов", "Schemes": "Схемы", "Infrastructure": "Инфраструктура", "Value": "Значение",
    "Cash-out points": "Точки обналичивания", "Withdrawals": "Снятий", "Accounts": "Счета", "History": "История", "confirmed": "подтверждено", "merged": "объединено",
    "Lift": "Снять", "Confirm": "Подтвердить", "Extend or lift": "Продлить или снять", "Extend by": "Продлить на",
    "Extend": "Продлить", "pending_confirmation": "ждёт подтверждения", "orders": "предписаний", "Orders by bank and stage": "Предписания по банкам и стадиям",
    # values shown through _(...): roles, views, stages, statuses, schemes, kinds, reasons, verdicts
    "analyst": "дежурный аналитик", "supervisor": "старший смены", "district_officer": "участковый",
    "admin": "администратор", "open": "открытые", "mine": "мои", "unassigned": "свободные", "snoozed": "отложенные",
    "order": "до предписания", "ack": "до получения", "freeze": "до заморозки",
    "issued": "выдано", "acknowledged": "получено", "returned": "возвращено", "released": "снято",
    "expired": "просрочено", "pending": "на рассмотрении", "upheld": "удовлетворена", "rejected": "отклонена",
    "uphold": "удовлетворить", "reject": "отклонить",
    "vishing": "вишинг", "phishing": "фишинг", "investment": "инвестиции", "fake_director": "фальшивый директор",
    "extortion": "вымогательство", "courier": "курьер", "other": "другое",
    "account": "счёт", "card": "карта", "phone": "телефон", "wallet": "кошелёк", "url": "ссылка", "domain": "домен",
    "email": "почта", "ip": "IP", "device": "устройство", "apple_id": "Apple ID",
    "confirmed_fraud": "мошенничество подтверждено", "false_report": "ложное заявление", "duplicate": "дубликат",
    "cash_out": "обналичено", "transfer": "перевод", "report": "заявление", "hop": "переход", "desk": "дежурная часть",
    "spent": "потрачено", "depth_limit": "предел глубины", "dispersed": "раздроблено",
    "order-issued": "предписание выдано", "order-acknowledged": "предписание получено",
    "order-frozen": "заморожено", "order-returned": "возвращено", "order-released": "снято", "order-expired": "просрочено",
    "wrong login or password, or the account is locked": "неверное имя или пароль, либо учётная запись заблокирована",
    "This page is not open to your role.": "Эта страница недоступна для вашей роли.",
    "Only a supervisor assigns incidents to someone else.": "Назначать происшествия другим может только старший смены.",
    "The form was missing its security token; nothing was changed. Reload the page and try again.":
        "В форме не было ключа защиты; ничего не изменено. Обновите страницу и повторите.",
}


# English for the values shown through _(...) (the templates' own strings are English already).
EN = {
    "analyst": "duty analyst", "supervisor": "supervisor", "district_officer": "district officer", "admin": "administrator",
    "fake_director": "fake director", "apple_id": "Apple ID", "ip": "IP", "url": "link",
    "confirmed_fraud": "confirmed fraud", "false_report": "false report", "cash_out": "cashed out",
    "depth_limit": "depth limit", "order": "to order", "ack": "to acknowledgement", "freeze": "to freeze",
    "order-issued": "order issued", "order-acknowledged": "order acknowledged", "order-frozen": "frozen",
    "order-returned": "returned", "order-released": "released", "order-expired": "expired",
    "courier.patrol": "patrol dispatched", "courier.detained": "courier detained",
    "pending_confirmation": "pending confirmation",
}


def _write(lang: str, table: dict[str, str]) -> Path:
    catalog = Catalog(locale=lang, project="zaslon-desk", domain="desk")
    for msgid, text in sorted(table.items()):
        catalog.add(msgid, text)
    out = DESK / f"locale/{lang}/LC_MESSAGES/desk.po"
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("wb") as f:
        write_po(f, catalog, width=120, omit_header=False)
    print(f"wrote {out} ({len(table)} messages)")
    return out


def main() -> int:
    used = set()
    for path in (DESK / "templates").glob("*.html"):
        used |= {m[1] for m in re.findall(r"""_\((["'])(.+?)\1\)""", path.read_text())}
    missing = sorted(used - RU.keys())
    _write("ru", RU)
    _write("en", EN)
    if missing:
        print("untranslated:", *missing, sep="\n  ", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
