"""The findings of a visit, as on the policy's record form (附件3, 五、探访情况)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Change = Literal["unchanged", "better", "worse"]
Safety = Literal["safe", "fairly_safe", "unsafe"]

# What the form prints next to its boxes, for reports and the console.
LABELS: dict[str, str] = {
    "unchanged": "无变化", "better": "较好", "worse": "较差",
    "safe": "安全", "fairly_safe": "较安全", "unsafe": "不安全",
    "increased": "增加", "decreased": "减少", "serious": "严重疾病", "improved": "转好",
}


class Part(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Household(Part):
    """家庭状况: 家庭人口 无变化 / 增加 N 人 / 减少 N 人."""

    change: Literal["unchanged", "increased", "decreased"] | None = None
    persons: int | None = Field(None, ge=0, description="How many persons more or fewer.")


class Health(Part):
    """健康状况: 表达能力, 行动能力, 疾病状况, 精神状态."""

    expression: Change | None = Field(None, description="表达能力")
    mobility: Change | None = Field(None, description="行动能力")
    illness: Literal["unchanged", "serious", "improved"] | None = Field(
        None, description="疾病状况")
    illness_name: str | None = Field(None, max_length=200, description="严重疾病名称")
    mood: Change | None = Field(None, description="精神状态（情绪状态）")


class HomeSafety(Part):
    """安全情况: 燃气, 水暖, 用电."""

    gas: Safety | None = Field(None, description="燃气安全")
    water_heating: Safety | None = Field(None, description="水暖安全")
    electricity: Safety | None = Field(None, description="用电安全")


class Hygiene(Part):
    """卫生状况 and 居住环境."""

    personal: Change | None = Field(None, description="个人卫生")
    household: Change | None = Field(None, description="家庭卫生")
    indoor: Change | None = Field(None, description="室内环境")


class Findings(Part):
    """What a visitor found (all optional): the form's boxes and its free-text lines."""

    household: Household | None = None
    health: Health | None = None
    safety: HomeSafety | None = None
    hygiene: Hygiene | None = None
    living_difficulties: str | None = Field(
        None, max_length=2000, description="衣食住行医等方面的困难、社会保障待遇情况")
    family_care: str | None = Field(
        None, max_length=2000, description="分开居住的家庭成员是否履行赡养义务、看望问候")
    needs: str | None = Field(None, max_length=2000, description="老年人服务需求")
    advice: str | None = Field(None, max_length=2000, description="实施关爱服务建议")
    follow_up: str | None = Field(None, max_length=2000, description="需跟踪回访的事项")

    def stored(self) -> dict[str, Any]:
        """The findings as kept in Visit.findings: only what was filled in."""
        return self.model_dump(exclude_none=True)


def from_flat(columns: dict[str, str]) -> Findings:
    """Findings from dotted CSV columns (`safety.gas` = `unsafe`); empty cells are skipped."""
    tree: dict[str, Any] = {}
    for name, raw in columns.items():
        value = raw.strip()
        if not value:
            continue
        path = name.split(".")
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return Findings.model_validate(tree)


def findings_columns() -> list[str]:
    """Every dotted column name the CSV import understands for findings."""
    names: list[str] = []
    for field, info in Findings.model_fields.items():
        annotation = info.annotation
        sub = next((a for a in getattr(annotation, "__args__", ()) if isinstance(a, type)
                    and issubclass(a, Part)), None)
        if sub is None:
            names.append(field)
        else:
            names.extend(f"{field}.{inner}" for inner in sub.model_fields)
    return names
