"""Validate many inputs of a model straight to their dumps, without building the models.

An import validates up to 2000 customers. Building each model and then dumping it
(`model_dump(by_alias=True, exclude_none=True)`) costs about three times as much as
validating the same inputs into plain dicts, and leaves three objects per item for the
garbage collector to walk while the import runs. `DumpsOf(Model)` builds that plain-dict
validator from the model's own fields (same annotations, constraints, aliases and string
config), so there is no second definition to keep in step.

Only models it can mirror exactly are accepted: no validators or serializers of their
own, no nested models, no field excluded or renamed in dumps, and every optional field
defaulting to None (a dump without nulls leaves it out, as a missing key does). Anything
else is refused when the validator is built.
"""

from typing import Annotated, Any, NotRequired, Required, get_args

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, TypeAdapter, with_config
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

# The model settings that change how a field's value validates; the rest (aliases,
# serialization, schema text) are either mirrored field by field or do not apply.
_VALUE_SETTINGS = (
    "extra",
    "strict",
    "str_strip_whitespace",
    "str_to_lower",
    "str_to_upper",
    "str_min_length",
    "str_max_length",
    "coerce_numbers_to_str",
)


def _refuse_unmirrorable(model: type[BaseModel]) -> None:
    decorators = model.__pydantic_decorators__
    own = [
        name
        for name in (
            "validators",
            "field_validators",
            "root_validators",
            "model_validators",
            "field_serializers",
            "model_serializers",
            "computed_fields",
        )
        if getattr(decorators, name)
    ]
    if own:
        raise TypeError(f"{model.__name__} has {', '.join(own)}: its dumps cannot be mirrored")
    for name, info in model.model_fields.items():
        where = f"{model.__name__}.{name}"
        if not info.is_required() and (info.default is not None or info.default_factory):
            raise TypeError(f"{where} has a default other than None")
        if info.exclude or info.validation_alias not in (None, info.alias):
            raise TypeError(f"{where} is excluded from dumps or has its own validation alias")
        if info.serialization_alias not in (None, info.alias):
            raise TypeError(f"{where} is dumped under another name than it is given")
        if _holds_a_model(info.annotation):
            raise TypeError(f"{where} holds a model, which would validate to an object")


def _holds_a_model(annotation: Any) -> bool:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return True
    return any(_holds_a_model(arg) for arg in get_args(annotation))


class DumpsOf:
    """`DumpsOf(Model).validate(inputs)` is
    `[Model.model_validate(x).model_dump(by_alias=True, exclude_none=True) for x in inputs]`
    for a list that is valid throughout; a ValidationError otherwise (then validate the
    items one by one with the model itself to say which are wrong, and how)."""

    def __init__(self, model: type[BaseModel]) -> None:
        _refuse_unmirrorable(model)
        config: dict[str, Any] = dict(model.model_config)
        by_alias = config.get("validate_by_alias", True)
        by_name = config.get("validate_by_name", False)
        fields: dict[str, Any] = {}
        for name, info in model.model_fields.items():
            alias = info.alias or name
            typed: Any = info.annotation
            if info.metadata:
                typed = Annotated[typed, *info.metadata]
            # the names the model accepts for the field, in the order it tries them
            names = [alias] if by_alias else []
            if name not in names and (by_name or name == alias):
                names.append(name)
            if not names:
                raise TypeError(f"{model.__name__}.{name} accepts no input name")
            keyed = Annotated[typed, Field(validation_alias=AliasChoices(*names))]
            fields[alias] = Required[keyed] if info.is_required() else NotRequired[keyed]
        settings = {key: config[key] for key in _VALUE_SETTINGS if key in config}
        shape: Any = with_config(ConfigDict(**settings))(  # type: ignore[typeddict-item]
            TypedDict(f"{model.__name__}Dump", fields)  # type: ignore[operator]
        )
        self._adapter: TypeAdapter[list[dict[str, Any]]] = TypeAdapter(list[shape])

    def validate(self, inputs: list[Any]) -> list[dict[str, Any]]:
        dumps = self._adapter.validate_python(inputs)
        # An explicit null stays in the plain dict; the model's dump leaves it out.
        return [dump if None not in dump.values() else _without_nulls(dump) for dump in dumps]


def _without_nulls(dump: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in dump.items() if value is not None}
