# 3 "\<0a>.click"
x