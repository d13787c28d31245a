"""The fixed, documented set of residents' priority groups (重点人群) that subsidies can target."""

PRIORITY_GROUPS: dict[str, tuple[str, str]] = {
    "elderly_alone": ("独居老人", "Elderly living alone"),
    "elderly": ("老年人(60周岁以上)", "Elderly (60+)"),
    "disabled": ("残疾人", "People with disabilities"),
    "low_income": ("低保及低收入家庭", "Low-income households (dibao)"),
    "special_hardship": ("特困供养人员", "Persons in extreme hardship (tekun)"),
    "child": ("儿童", "Children"),
    "left_behind_child": ("留守儿童", "Left-behind children"),
    "veteran": ("退役军人及优抚对象", "Veterans and entitled groups"),
}
