-- Sample catalogues: BHXH offices that accept e-dossiers, and the dossier types filed online.
-- Addresses and telephone numbers are illustrative (a demo portal, not the real one).
INSERT INTO offices (code, name, province, address, phone) VALUES
 ('01000', 'BHXH thành phố Hà Nội', 'Hà Nội', 'Số 86 Trần Hưng Đạo, Hoàn Kiếm, Hà Nội', '024 3942 0000'),
 ('01001', 'BHXH quận Ba Đình', 'Hà Nội', 'Số 1 Kim Mã Thượng, Ba Đình, Hà Nội', '024 3762 0001'),
 ('01002', 'BHXH quận Hoàn Kiếm', 'Hà Nội', 'Số 12 Lý Thái Tổ, Hoàn Kiếm, Hà Nội', '024 3826 0002'),
 ('01005', 'BHXH quận Cầu Giấy', 'Hà Nội', 'Số 8 Trần Đăng Ninh, Cầu Giấy, Hà Nội', '024 3793 0005'),
 ('01007', 'BHXH quận Hai Bà Trưng', 'Hà Nội', 'Số 25 Lò Đúc, Hai Bà Trưng, Hà Nội', '024 3971 0007'),
 ('79000', 'BHXH Thành phố Hồ Chí Minh', 'TP Hồ Chí Minh', 'Số 117C Nguyễn Đình Chính, Phú Nhuận, TP Hồ Chí Minh', '028 3997 0000'),
 ('79760', 'BHXH quận 1', 'TP Hồ Chí Minh', 'Số 43 Nguyễn Văn Thủ, Quận 1, TP Hồ Chí Minh', '028 3824 0760'),
 ('79766', 'BHXH quận Tân Bình', 'TP Hồ Chí Minh', 'Số 387A Trường Chinh, Tân Bình, TP Hồ Chí Minh', '028 3842 0766'),
 ('48000', 'BHXH thành phố Đà Nẵng', 'Đà Nẵng', 'Số 136 Nguyễn Văn Linh, Thanh Khê, Đà Nẵng', '0236 382 0000'),
 ('31000', 'BHXH thành phố Hải Phòng', 'Hải Phòng', 'Số 2 Hồ Xuân Hương, Hồng Bàng, Hải Phòng', '0225 374 0000'),
 ('92000', 'BHXH thành phố Cần Thơ', 'Cần Thơ', 'Số 37 Nguyễn Trãi, Ninh Kiều, Cần Thơ', '0292 382 0000'),
 ('22000', 'BHXH tỉnh Quảng Ninh', 'Quảng Ninh', 'Phường Hồng Hà, Hạ Long, Quảng Ninh', '0203 362 0000'),
 ('74000', 'BHXH tỉnh Bình Dương', 'Bình Dương', 'Số 508 Đại lộ Bình Dương, Thủ Dầu Một, Bình Dương', '0274 382 0000'),
 ('75000', 'BHXH tỉnh Đồng Nai', 'Đồng Nai', 'Số 10 Nguyễn Văn Trị, Biên Hòa, Đồng Nai', '0251 382 0000');

INSERT INTO dossier_types (procedure, name, forms, description) VALUES
 ('600', 'Báo tăng, giảm, điều chỉnh đóng BHXH, BHYT, BHTN', 'D02-TS,TK1-TS,D01-TS',
  'Đơn vị báo tăng lao động mới, báo giảm lao động nghỉ việc, điều chỉnh mức lương đóng.'),
 ('601', 'Cấp lại, đổi, điều chỉnh thông tin trên sổ BHXH, thẻ BHYT', 'TK1-TS,D01-TS',
  'Cấp lại sổ BHXH do mất, hỏng; điều chỉnh họ tên, ngày sinh, giới tính trên sổ và thẻ.'),
 ('602', 'Truy đóng BHXH bắt buộc, BHTN', 'D02-TS,D01-TS',
  'Truy đóng cho thời gian người lao động làm việc chưa được đơn vị đóng BHXH.'),
 ('604', 'Đăng ký đóng, cấp thẻ BHYT đối với người chỉ tham gia BHYT', 'TK1-TS,D03-TS',
  'Đăng ký cho người lao động hoặc thân nhân chỉ tham gia bảo hiểm y tế.'),
 ('607', 'Đăng ký, điều chỉnh đóng BHXH bắt buộc đối với đơn vị', 'TK3-TS',
  'Đăng ký tham gia lần đầu hoặc thay đổi thông tin đơn vị (địa chỉ, phương thức đóng).'),
 ('630a', 'Giải quyết hưởng chế độ ốm đau', '01B-HSB',
  'Đề nghị giải quyết chế độ ốm đau cho người lao động.'),
 ('630b', 'Giải quyết hưởng chế độ thai sản', '01B-HSB',
  'Đề nghị giải quyết chế độ thai sản cho người lao động.'),
 ('630c', 'Giải quyết hưởng trợ cấp dưỡng sức, phục hồi sức khỏe', '01B-HSB',
  'Đề nghị trợ cấp dưỡng sức sau ốm đau, thai sản, tai nạn lao động.');
