"""Static material the city generator draws from: places, names, products, phone prefixes."""

from dataclasses import dataclass

from app.core.enums import TemperatureClass

AMBIENT, CHILLED, FROZEN = (
    TemperatureClass.AMBIENT,
    TemperatureClass.CHILLED,
    TemperatureClass.FROZEN,
)

# Shanghai-sounding areas and housing-estate suffixes: 60 x 14 = 840 distinct names.
AREAS = (
    "Jing'an", "Xujiahui", "Lujiazui", "Gubei", "Hongqiao", "Wujiaochang", "Zhongshan Park",
    "Caoyang", "Longhua", "Tianlin", "Meilong", "Kangjian", "Zhangjiang", "Jinqiao", "Huamu",
    "Sanlin", "Zhoujiadu", "Tangqiao", "Yangpu", "Anshan", "Siping", "Dabaishu", "Daning",
    "Pengpu", "Gonghexin", "Zhabei", "Luwan", "Dapuqiao", "Xintiandi", "Laoximen", "Yuyuan",
    "Beiwaitan", "Hongkou", "Liangcheng", "Quyang", "Jiangwan", "Changfeng", "Zhenru",
    "Taopu", "Changning", "Xianxia", "Beixinjing", "Gumei", "Qibao", "Xinzhuang", "Chunshen",
    "Pujiang", "Lianhua", "Huacao", "Jiuting", "Songjiang", "Minhang", "Baoshan", "Gaojing",
    "Wusong", "Yangsi", "Shibo", "Weifang", "Yuanshen", "Tongji",
)  # fmt: skip
ESTATES = (
    "Garden", "Court", "New Village", "Residences", "Estate", "Mansions", "Park", "Heights",
    "Terrace", "Lane", "Towers", "Green", "Square", "Village",
)  # fmt: skip
STREETS = (
    "Huaihai Rd", "Nanjing West Rd", "Yan'an Rd", "Zhaojiabang Rd", "Hengshan Rd", "Wuning Rd",
    "Changshou Rd", "Siping Rd", "Zhangyang Rd", "Century Ave", "Caoxi Rd", "Hongqiao Rd",
    "Gubei Rd", "Dalian Rd", "Xietu Rd", "Pudong Ave", "Zhongshan North Rd", "Jinqiao Rd",
)  # fmt: skip

# Resident names: (pinyin, hanzi).
SURNAMES = (
    ("Wang", "王"), ("Li", "李"), ("Zhang", "张"), ("Liu", "刘"), ("Chen", "陈"), ("Yang", "杨"),
    ("Zhao", "赵"), ("Huang", "黄"), ("Zhou", "周"), ("Wu", "吴"), ("Xu", "徐"), ("Sun", "孙"),
    ("Hu", "胡"), ("Zhu", "朱"), ("Gao", "高"), ("Lin", "林"), ("He", "何"), ("Guo", "郭"),
    ("Ma", "马"), ("Luo", "罗"),
)  # fmt: skip
GIVEN_NAMES = (
    ("Wei", "伟"), ("Fang", "芳"), ("Na", "娜"), ("Min", "敏"), ("Jing", "静"), ("Li", "丽"),
    ("Qiang", "强"), ("Lei", "磊"), ("Jun", "军"), ("Yang", "洋"), ("Yong", "勇"), ("Yan", "艳"),
    ("Jie", "杰"), ("Juan", "娟"), ("Tao", "涛"), ("Ming", "明"), ("Chao", "超"),
    ("Xiuying", "秀英"), ("Xia", "霞"), ("Ping", "平"), ("Hui", "慧"), ("Ting", "婷"),
    ("Hao", "浩"), ("Yu", "宇"), ("Xin", "欣"),
)  # fmt: skip

# Chinese mobile prefixes that phonenumbers accepts as mobile (154 and 174 it does not).
MOBILE_PREFIXES = (
    "130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "150", "151", "152",
    "153", "155", "156", "157", "158", "159", "166", "176", "177", "178", "180", "181", "182",
    "183", "184", "185", "186", "187", "188", "189", "198", "199",
)  # fmt: skip


@dataclass(frozen=True)
class ProductSeed:
    name: str
    name_zh: str
    unit: str
    price_minor: int  # fen, before the seed's small price jitter
    temperature_class: TemperatureClass
    packed_volume_ml: int
    weight_g: int
    max_minutes_out: int


P = ProductSeed
PRODUCTS: tuple[ProductSeed, ...] = (
    # Ambient: staples, root vegetables, fruit, dry goods.
    P("Jasmine rice", "泰国香米", "5 kg", 4990, AMBIENT, 6500, 5050, 2880),
    P("Northeast rice", "东北大米", "2.5 kg", 2890, AMBIENT, 3300, 2530, 2880),
    P("Dried wheat noodles", "挂面", "1 kg", 1290, AMBIENT, 1600, 1020, 2880),
    P("Light soy sauce", "生抽", "500 ml", 990, AMBIENT, 650, 620, 2880),
    P("Dark soy sauce", "老抽", "500 ml", 1090, AMBIENT, 650, 640, 2880),
    P("Zhenjiang black vinegar", "镇江香醋", "500 ml", 890, AMBIENT, 650, 640, 2880),
    P("Peanut oil", "花生油", "1.8 l", 3990, AMBIENT, 2100, 1720, 2880),
    P("Free-range eggs", "土鸡蛋", "10 pcs", 1590, AMBIENT, 1800, 620, 720),
    P("Potatoes", "土豆", "1 kg", 590, AMBIENT, 1500, 1020, 1440),
    P("Yellow onions", "洋葱", "1 kg", 490, AMBIENT, 1600, 1020, 1440),
    P("Garlic", "大蒜", "500 g", 790, AMBIENT, 900, 510, 1440),
    P("Ginger", "生姜", "250 g", 490, AMBIENT, 400, 260, 1440),
    P("Sweet potatoes", "红薯", "1 kg", 690, AMBIENT, 1500, 1020, 1440),
    P("Carrots", "胡萝卜", "1 kg", 590, AMBIENT, 1400, 1020, 720),
    P("Tomatoes", "西红柿", "500 g", 690, AMBIENT, 900, 520, 720),
    P("Fuji apples", "红富士苹果", "1.5 kg", 1990, AMBIENT, 2600, 1540, 1440),
    P("Bananas", "香蕉", "1 kg", 890, AMBIENT, 2200, 1020, 720),
    P("Gannan navel oranges", "赣南脐橙", "1.5 kg", 2290, AMBIENT, 2500, 1540, 1440),
    P("Dangshan pears", "砀山梨", "1 kg", 990, AMBIENT, 1800, 1030, 1440),
    P("Kiwi fruit", "猕猴桃", "6 pcs", 1490, AMBIENT, 1100, 560, 1440),
    P("Mini watermelon", "麒麟瓜", "1 pc", 2990, AMBIENT, 6000, 2600, 720),
    P("Wogan mandarins", "沃柑", "1 kg", 1290, AMBIENT, 1700, 1030, 1440),
    P("Red dragon fruit", "红心火龙果", "2 pcs", 1590, AMBIENT, 1600, 820, 1440),
    P("Dried bean curd sticks", "腐竹", "250 g", 990, AMBIENT, 1200, 270, 2880),
    P("Dried shiitake mushrooms", "干香菇", "200 g", 2490, AMBIENT, 1500, 220, 2880),
    P("Xinjiang red dates", "新疆红枣", "500 g", 1990, AMBIENT, 1300, 520, 2880),
    P("Roasted sunflower seeds", "瓜子", "500 g", 1290, AMBIENT, 1400, 520, 2880),
    P("Instant noodles", "方便面", "5 packs", 1290, AMBIENT, 3200, 560, 2880),
    P("Mineral water", "矿泉水", "12 x 550 ml", 1980, AMBIENT, 7800, 6800, 2880),
    P("Tieguanyin oolong tea", "铁观音", "250 g", 4590, AMBIENT, 900, 280, 2880),
    # Chilled: leafy greens, berries, dairy, tofu, fresh meat and fish.
    P("Shanghai bok choy", "上海青", "500 g", 590, CHILLED, 2500, 520, 240),
    P("Choy sum", "菜心", "500 g", 690, CHILLED, 2300, 520, 240),
    P("Spinach", "菠菜", "400 g", 590, CHILLED, 2200, 420, 240),
    P("Napa cabbage", "大白菜", "1 pc", 790, CHILLED, 3500, 1600, 360),
    P("Romaine lettuce", "生菜", "400 g", 490, CHILLED, 2000, 420, 240),
    P("Cucumbers", "黄瓜", "500 g", 490, CHILLED, 900, 520, 360),
    P("Broccoli", "西兰花", "500 g", 890, CHILLED, 1500, 520, 360),
    P("Green beans", "四季豆", "500 g", 790, CHILLED, 1200, 520, 360),
    P("Chinese eggplant", "长茄子", "500 g", 590, CHILLED, 1300, 520, 360),
    P("Enoki mushrooms", "金针菇", "300 g", 390, CHILLED, 800, 310, 240),
    P("Silken tofu", "嫩豆腐", "400 g", 350, CHILLED, 500, 430, 180),
    P("Spring onions", "小葱", "200 g", 290, CHILLED, 600, 210, 240),
    P("Coriander", "香菜", "100 g", 290, CHILLED, 500, 110, 240),
    P("Dandong strawberries", "丹东草莓", "500 g", 2990, CHILLED, 1500, 560, 180),
    P("Shine Muscat grapes", "阳光玫瑰葡萄", "500 g", 2490, CHILLED, 1200, 540, 240),
    P("Blueberries", "蓝莓", "125 g", 1590, CHILLED, 350, 140, 180),
    P("Fresh milk", "鲜牛奶", "950 ml", 1490, CHILLED, 1100, 1000, 120),
    P("Plain yoghurt", "原味酸奶", "4 x 100 g", 990, CHILLED, 600, 440, 120),
    P("Fresh soy milk", "鲜豆浆", "1 l", 690, CHILLED, 1100, 1050, 120),
    P("Cheese slices", "芝士片", "200 g", 2290, CHILLED, 350, 210, 120),
    P("Unsalted butter", "黄油", "200 g", 2590, CHILLED, 300, 210, 120),
    P("Pork belly", "五花肉", "500 g", 2890, CHILLED, 800, 520, 90),
    P("Minced pork", "猪肉糜", "500 g", 2290, CHILLED, 700, 520, 90),
    P("Pork spare ribs", "猪肋排", "500 g", 3990, CHILLED, 1000, 520, 90),
    P("Beef brisket", "牛腩", "500 g", 4990, CHILLED, 800, 520, 90),
    P("Chicken thighs", "鸡腿", "1 kg", 2690, CHILLED, 1500, 1030, 90),
    P("Sanhuang chicken", "三黄鸡", "1.2 kg", 4590, CHILLED, 2500, 1240, 90),
    P("Chicken wings", "鸡翅中", "500 g", 2990, CHILLED, 900, 520, 90),
    P("Salmon fillet", "三文鱼", "300 g", 5990, CHILLED, 600, 320, 60),
    P("Sea bass", "鲈鱼", "600 g", 3990, CHILLED, 1500, 640, 60),
    P("Live-caught shrimp", "基围虾", "500 g", 5590, CHILLED, 1100, 560, 60),
    P("Fresh rice noodles", "鲜米粉", "500 g", 490, CHILLED, 700, 520, 180),
    # Frozen: dumplings, buns, seafood, hot-pot meat, desserts.
    P("Pork and cabbage dumplings", "猪肉白菜水饺", "1 kg", 2590, FROZEN, 2000, 1040, 30),
    P("Shrimp dumplings", "虾仁水饺", "500 g", 3290, FROZEN, 1100, 530, 30),
    P("Xiaolongbao", "小笼包", "360 g", 1990, FROZEN, 1000, 380, 30),
    P("Black sesame tangyuan", "黑芝麻汤圆", "400 g", 1290, FROZEN, 800, 420, 30),
    P("Pork buns", "鲜肉包", "600 g", 1690, FROZEN, 1800, 630, 30),
    P("Shepherd's purse wontons", "荠菜馄饨", "500 g", 1890, FROZEN, 1300, 520, 30),
    P("Peeled shrimp", "冻虾仁", "500 g", 4590, FROZEN, 900, 560, 30),
    P("Scallop meat", "扇贝肉", "500 g", 3990, FROZEN, 900, 560, 30),
    P("Hot-pot beef rolls", "肥牛卷", "500 g", 3590, FROZEN, 900, 520, 30),
    P("Hot-pot lamb rolls", "羊肉卷", "500 g", 3990, FROZEN, 900, 520, 30),
    P("Fish balls", "鱼丸", "500 g", 1590, FROZEN, 900, 520, 30),
    P("Sweet corn kernels", "玉米粒", "500 g", 890, FROZEN, 700, 510, 45),
    P("Mixed vegetables", "什锦蔬菜", "500 g", 990, FROZEN, 800, 510, 45),
    P("Vanilla ice cream", "香草冰淇淋", "1 l", 3990, FROZEN, 1200, 560, 20),
    P("Red bean ice lollies", "红豆雪糕", "6 pcs", 2490, FROZEN, 900, 420, 20),
    P("Spring rolls", "春卷", "500 g", 1590, FROZEN, 1000, 520, 30),
    P("Chicken nuggets", "鸡块", "1 kg", 3290, FROZEN, 2000, 1040, 30),
    P("Flaky scallion pancakes", "手抓饼", "900 g", 1990, FROZEN, 1500, 930, 30),
)
